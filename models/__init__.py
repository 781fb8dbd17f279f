"""Model logic: scikit-learn-style estimators and evaluation, no file I/O."""
