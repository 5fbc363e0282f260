"""Fine-tuning, linear probing and benchmark reports."""
