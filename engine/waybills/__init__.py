"""The shipping desk's e-waybills (电子面单): which counterpart issues an order's waybill, the
request it is sent, the waybill kept once per order, the ship step fed with its tracking
number, and the picking wave (拣货波次) of the selected orders.

Pure parts (:mod:`engine.waybills.ports`, :mod:`engine.waybills.requests`,
:mod:`engine.waybills.pick_list`) import neither Flask nor SQLAlchemy; storage lives in
:mod:`engine.waybills.model` and the use cases in :mod:`engine.waybills.service`. No module
here imports a connector: the composition root hands the clients in (``services.ports``).
"""
