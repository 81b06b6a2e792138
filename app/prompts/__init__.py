"""Prompt building: entity resolution, the builder chain, LLM enhancement, prompt generation."""
