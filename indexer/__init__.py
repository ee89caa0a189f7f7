"""Documents → legal-structure chunks with citation metadata → Chroma + BM25."""
