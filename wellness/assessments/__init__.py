"""Self-assessments: instruments (data files), pure scoring, responses, history charts."""
