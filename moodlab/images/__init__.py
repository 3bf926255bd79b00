"""Candidate images: crawling, sourcing, importing, checking and storing them."""
