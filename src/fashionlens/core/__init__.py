"""Below everything: errors, records, the taxonomy, the safe image loader, text files, checkpoints and atomic writes."""
