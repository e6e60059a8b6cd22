"""Long-range dependency experiments: MQAR and long-document language modelling (docs/RESULTS.md).

Experiment-side code only: model variants subclass the reference model, nothing here changes the
library's behaviour. Entry point: tools/eval_longrange.py.
"""
