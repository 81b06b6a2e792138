"""Local fake servers that speak external providers' real wire protocols."""
