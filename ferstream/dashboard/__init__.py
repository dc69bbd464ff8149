"""The dashboard: a Streamlit app over the results database (``ferstream dashboard``).

It reads what the workers wrote (read-only) and, from its upload panel,
submits videos for analysis the way ``ferstream analyze`` does.
"""
