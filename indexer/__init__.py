"""Indexing: phase 1 (walk), phase 2 (metadata, thumbnails, hashes, embeddings), jobs, watcher."""
