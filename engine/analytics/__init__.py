"""Operations analytics over the order store: the staffing heatmap, the geography of orders and
the fulfillment deviation, computed in SQL with the orders each figure counted."""
