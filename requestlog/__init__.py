"""The shared request log: one RequestLog row per request, written in batches off the hot path,
priced from ModelPrice rows, and summed into the dashboard's rollup by the same writer.

Imports `routing` only (a row outlives its route); the gateway hands it finished rows.
"""
