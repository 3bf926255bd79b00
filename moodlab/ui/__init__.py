"""Streamlit helpers: the only part of moodlab that imports streamlit."""
