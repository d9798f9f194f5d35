"""Trends and forecasts of a tenant's records (docs/trends.md).

- `forecast`: the forecaster, pure numpy: a linear trend plus a seasonal profile,
  its prediction interval, and the rule for how many points it needs;
- `backtest`: rolling-origin one-step backtests (MAE, MAPE, a seasonal-naive baseline);
- `series`: the series themselves (tasks, outcomes, durations, approvals, interventions),
  bucketed by hour or day from the task projection and the task events;
- `report`: one series and its forecast, as the API answers them.
"""
