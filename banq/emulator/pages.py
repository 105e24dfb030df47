"""HTML for the hosted payment page, the app approval page and the dashboard."""
