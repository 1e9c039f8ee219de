"""Data exchange: Satu's X-Road. Agencies call each other's services through one signed,
access-controlled gateway; every exchange lands in a Merkle-tree transparency log that
residents read through the data tracker."""
