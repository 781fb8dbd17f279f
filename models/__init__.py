"""Model logic: the out-of-time split, scikit-learn-style estimators, fitting and
calibration, metrics, drift, SHAP explanations by cause and figures. No MLflow, no file
I/O: the stages log and write what these functions return."""
