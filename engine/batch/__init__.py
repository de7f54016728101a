"""`engine.vectorize`: a function of one sample's Values, recorded once and replayed over whole batches."""
