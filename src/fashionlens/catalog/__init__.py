"""The store's catalogue: storage (store), nearest-neighbour index (index), import, recommendations."""
