"""LangChain tools by import path."""
