"""Python asset checks on the landing and staging layers (dbt tests cover core and marts)."""
