"""Staged migration from SQL to MongoDB: stages, the staged repository, SQL as a
replica, shadow reads and read metadata."""
