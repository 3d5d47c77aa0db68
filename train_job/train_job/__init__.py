"""Training package for the credit-card fraud model."""
