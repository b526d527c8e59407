"""The dashboard: one web page for the building and the home, reading only through oneM2M."""
