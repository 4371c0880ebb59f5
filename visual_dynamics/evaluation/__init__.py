"""Quantitative evaluation: image metrics, visual analogies, sample quality against baselines."""
