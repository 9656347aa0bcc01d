#!/usr/bin/env python3
"""Splink (DuckDB backend) on FEBRL4, the anchor of Benchmarks/febrl4.sh.

  python3 Benchmarks/febrl4/splink_run.py DIR

Reads DIR/a.csv and DIR/b.csv (Benchmarks/febrl4/prepare.py), links them with the model of
Splink's own FEBRL4 example (name, date-of-birth, Damerau–Levenshtein and exact comparisons,
term-frequency adjustments on street number and postcode), trained without labels: the
probability two records match from deterministic rules, u by random sampling, m by
expectation–maximisation over two blocking rules. Predicts pairs and keeps those at a match
probability of 0.5 or more, one per record (the best), as a link-only job does. Prints one
JSON line: pairwise precision, recall and F1 against FEBRL's truth, and the seconds the
training and prediction took (the interpreter's start and imports excluded).
"""
import json, logging, sys, time

import pandas as pd
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on


def load(path):
    frame = pd.read_csv(path, dtype=str).fillna("")
    for column in frame.columns:
        frame[column] = frame[column].str.strip().replace("", None)
    return frame


def main():
    directory = sys.argv[1]
    a, b = load(f"{directory}/a.csv"), load(f"{directory}/b.csv")
    started = time.perf_counter()
    db_api = DuckDBAPI()
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="link_only",
        blocking_rules_to_generate_predictions=[
            block_on("given_name", "surname"),
            block_on("date_of_birth"),
            block_on("soc_sec_id"),
            block_on("street_number", "address_1"),
            block_on("postcode"),
        ],
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.8]),
            cl.JaroWinklerAtThresholds("address_2", [0.9, 0.8]),
            cl.JaroWinklerAtThresholds("suburb", [0.9, 0.8]),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
            cl.ExactMatch("state"),
        ],
    )
    linker = Linker([db_api.register(a, dataset_display_name="a"), db_api.register(b, dataset_display_name="b")], settings, log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname", "date_of_birth"), block_on("soc_sec_id", "date_of_birth")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("given_name", "surname"))
    trained = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
    done = time.perf_counter()

    best = predictions.sort_values("match_probability", ascending=False).drop_duplicates("rec_id_r").drop_duplicates("rec_id_l")
    predicted = {(l, r) for l, r in zip(best["rec_id_l"], best["rec_id_r"])}
    truth = {(f"rec-{r.split('-')[1]}-org", r) for r in b["rec_id"]}
    # Splink names the left and right tables by registration order: a on the left.
    correct = len(predicted & truth)
    precision = correct / len(predicted) if predicted else 1.0
    recall = correct / len(truth)
    print(json.dumps({"predictedPairs": len(predicted), "truePairs": len(truth), "correctPairs": correct,
                      "precision": round(precision, 5), "recall": round(recall, 5),
                      "f1": round(2 * precision * recall / (precision + recall), 5) if precision + recall else 0.0,
                      "trainSeconds": round(trained - started, 2), "predictSeconds": round(done - trained, 2)}))


if __name__ == "__main__":
    main()
