"""Risk rules at intake: the published ``risk`` declarations run on every order in the pipeline's
risk stage (``engine.risk.stage``), their flags stored and listed (``GET /api/v1/risk/flags``)."""
