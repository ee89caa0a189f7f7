"""One server: the FastAPI answer API for compliance teams and the Gradio chat for exporters."""
