"""Reports for readers: wording, tables, figures and output in Chinese and English."""
