"""Many studies: cross-region comparison, comparability tests, provincial and national roll-up."""
