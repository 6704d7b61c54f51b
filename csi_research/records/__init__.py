"""Service records (95598 work orders): format and loader, per-customer features, synthetic
records with planted effects, and the driver analysis that finds what is critical to satisfaction."""

from csi_research.records.customers import high_value_customers, satisfaction_scores
from csi_research.records.drivers import (
    DriverAnalysis,
    driver_analysis,
    pareto_chart_data,
    plot_pareto,
)
from csi_research.records.features import CustomerFeatures, customer_features, reference_period
from csi_research.records.format import (
    COLUMNS,
    COMPLAINT_CATEGORIES,
    EVENT_TYPES,
    ServiceRecords,
    event_label,
    load_records,
)
from csi_research.records.synthetic import (
    PlantedTruth,
    SyntheticRecords,
    synthetic_records,
)

__all__ = [
    "COLUMNS",
    "COMPLAINT_CATEGORIES",
    "EVENT_TYPES",
    "CustomerFeatures",
    "DriverAnalysis",
    "PlantedTruth",
    "ServiceRecords",
    "SyntheticRecords",
    "customer_features",
    "driver_analysis",
    "event_label",
    "high_value_customers",
    "load_records",
    "pareto_chart_data",
    "plot_pareto",
    "reference_period",
    "satisfaction_scores",
    "synthetic_records",
]
