"""Adapters: turn foreign tools into brainjar tools, and brainjar into foreign servers."""
