"""The store's catalogue: storage (store), nearest-neighbour index (index), import, recommendations."""

# products per list (similar, complete the look) and garment: the command line, the service and the
# customer page's preselected choice (static/index.html) show the same number
DEFAULT_K = 4
