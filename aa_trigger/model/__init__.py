"""The model: VAE builder with quantisation specs, training loops (pretraining, AA, surrogate), scores."""
