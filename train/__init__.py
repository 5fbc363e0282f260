"""VideoMAE pre-training on pseudo-motion shards."""
