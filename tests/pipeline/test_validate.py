"""validate_data_dir and the pure checks: every bad-input kind becomes a Problem naming file, column and lines."""

from __future__ import annotations

import pandas as pd
import pandera.errors
import pytest

from features import FeatureSettings
from features.schemas import TABLE_SCHEMAS
from features.tables import COLUMNS, empty_table
from pipeline.contract import RawTable, _text_to_float, check_tables, typed_frame
from pipeline.validate import validate_data_dir

CUSTOMERS = (
    "customer_id,signup_date,segment,account_manager_id,wallet_estimate\nC1,2020-01-15,retail,M1,1000\n"
    "C2,2021-06-01,retail,M2,\nC3,,b2b,,250.5\n"
)
TRANSACTIONS = (
    "customer_id,timestamp,amount,transaction_id,promo,list_amount\n"
    "C1,2024-03-01 13:45:00,10.5,T1,true,12\n"
    "C2,2024-03-02,-4,T2,false,\n"  # a return: negative amounts are legitimate
    "C1,2024-03-05T10:00:00+02:00,3,T3,,3\n"  # an offset: converted to UTC
    "C3,2024-01-10,7.25,T4,0,8\n"
)
COMPLAINTS = "customer_id,opened_at,resolved_at,severity,satisfaction\nC1,2024-02-01,2024-02-03,4,2\nC2,2024-02-10,,5,\n"
VISITS = "customer_id,timestamp,channel,duration_s\nC1,2023-12-31 23:00:00,web,30\nC3,2024-01-09,store,\n"
MANAGERS = "account_manager_id,departed_at\nM1,\nM2,2024-01-31\n"
VALID = {
    "customers.csv": CUSTOMERS,
    "transactions.csv": TRANSACTIONS,
    "complaints.csv": COMPLAINTS,
    "visits.csv": VISITS,
    "account_managers.csv": MANAGERS,
}


def data_dir(tmp_path, **files: str | bytes | None):
    """The valid directory above with some files replaced (bytes written as is) or removed (None)."""
    contents = {**VALID, **{name.replace("__", "."): text for name, text in files.items()}}
    for name, text in contents.items():
        if isinstance(text, bytes):
            (tmp_path / name).write_bytes(text)
        elif text is not None:
            (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def problems_of(tmp_path, **files):
    return validate_data_dir(data_dir(tmp_path, **files)).problems


def the_problem(problems, file, column):
    found = [p for p in problems if p.file == file and p.column == column]
    assert len(found) == 1, [p.render() for p in problems]
    return found[0]


def test_valid_directory_has_no_problem_and_a_summary(tmp_path):
    report = validate_data_dir(data_dir(tmp_path))

    assert report.problems == []
    assert report.ok
    assert report.summary == {
        "tables": {
            name.removesuffix(".csv"): name
            for name in [
                "transactions.csv",
                "customers.csv",
                "complaints.csv",
                "visits.csv",
                "account_managers.csv",
            ]
        },
        "rows": {"transactions": 4, "customers": 3, "complaints": 2, "visits": 2, "account_managers": 2},
        "customers": 3,
        "first_event": pd.Timestamp("2023-12-31 23:00:00"),  # the web visit
        "last_event": pd.Timestamp("2024-03-05 08:00:00"),  # 10:00 at +02:00 is 08:00 UTC
    }
    assert "3 customers; events from 2023-12-31 to 2024-03-05" in report.render_summary()


def test_the_example_message_reads_as_documented(tmp_path):
    tx = TRANSACTIONS + 'C1,2024-03-06,"12,50",T5,,\nC2,2024-03-07,abc,T6,,\n'
    problem = the_problem(problems_of(tmp_path, transactions__csv=tx), "transactions.csv", "amount")

    assert problem.rows == (6, 7)
    assert problem.render() == (
        "transactions.csv, column amount, lines 6, 7: not a number ('12,50', 'abc'); "
        "use a dot as decimal separator and no thousands separators or currency signs"
    )


def test_missing_transactions_file_is_an_error_naming_the_folder(tmp_path):
    problems = problems_of(tmp_path, transactions__csv=None)

    assert [(p.file, p.severity) for p in problems] == [(str(tmp_path), "error")]
    assert "no transactions file" in problems[0].what
    assert "transactions.csv" in problems[0].fix


def test_missing_folder_is_one_problem(tmp_path):
    report = validate_data_dir(tmp_path / "nowhere")

    assert [p.what for p in report.problems] == ["folder not found"]
    assert report.summary["customers"] == 0


def test_two_files_for_one_table_is_an_error(tmp_path):
    problems = problems_of(tmp_path, complaints__csv__gz=b"")

    assert [p.what for p in problems] == ["two files for table complaints: complaints.csv, complaints.csv.gz"]


def test_missing_required_column_names_the_column_and_the_header_found(tmp_path):
    tx = "customer_id,timestamp,amont\nC1,2024-03-01,10\n"
    problem = the_problem(problems_of(tmp_path, transactions__csv=tx), "transactions.csv", "amount")

    assert problem.what == "required column is missing"
    assert "'amont'" in problem.fix


def test_a_required_column_under_another_spelling_is_named_for_renaming(tmp_path):
    tx = "Customer ID,TimeStamp,amount \nC1,2024-03-01,10\n"
    problems = problems_of(tmp_path, transactions__csv=tx)

    fixes = {column: the_problem(problems, "transactions.csv", column).fix
             for column in ("customer_id", "timestamp", "amount")}
    assert fixes == {
        "customer_id": "rename the column 'Customer ID' to customer_id (names are exact: lower case, underscores)",
        "timestamp": "rename the column 'TimeStamp' to timestamp (names are exact: lower case, underscores)",
        "amount": "rename the column 'amount ' to amount (names are exact: lower case, underscores)",
    }


def test_columns_nothing_reads_are_warned_of_a_misspelt_optional_one_by_name(tmp_path):
    tx = "Customer ID,timestamp,amount,Category,on_promo,store_region\nC1,2024-03-01,10,garden,true,north\n"
    problems = problems_of(tmp_path, transactions__csv=tx)

    # The required customer_id under another spelling is an error (above); Category is an optional column under
    # another spelling; the other two are not in the contract.
    assert [(p.severity, p.column, p.what) for p in problems] == [
        ("error", "customer_id", "required column is missing"),
        ("warning", "Category", "not read: the data contract names this column category"),
        ("warning", None, "2 column(s) not in the data contract, not read: 'on_promo', 'store_region'"),
    ]
    assert problems[1].fix == "rename it to category to use it"


def test_a_parquet_file_with_contract_columns_only_gets_no_unread_warning(tmp_path):
    frame = pd.DataFrame({"customer_id": ["C1"], "timestamp": [pd.Timestamp("2024-03-01")], "amount": [10.0],
                          "Channel": ["web"]})
    frame.to_parquet(tmp_path / "transactions.parquet")
    report = validate_data_dir(tmp_path)
    assert [(p.severity, p.column, p.what) for p in report.problems] == [
        ("warning", "Channel", "not read: the data contract names this column channel")]
    frame.drop(columns="Channel").to_parquet(tmp_path / "transactions.parquet")
    assert validate_data_dir(tmp_path).problems == []


def test_header_without_rows_is_an_error_for_transactions_and_a_warning_for_complaints(tmp_path):
    problems = problems_of(
        tmp_path,
        transactions__csv="customer_id,timestamp,amount\n",
        complaints__csv="customer_id,opened_at\n\n",
    )

    tx = the_problem(problems, "transactions.csv", None)
    complaints = the_problem(problems, "complaints.csv", None)
    assert (tx.what, tx.severity) == ("has a header but no rows", "error")
    assert (complaints.what, complaints.severity) == ("has a header but no rows", "warning")


def test_file_that_is_not_utf8_names_its_first_bad_line(tmp_path):
    latin1 = "customer_id,opened_at\nC1,2024-02-01\nCé,2024-02-02\n".encode("latin-1")
    problem = the_problem(problems_of(tmp_path, complaints__csv=latin1), "complaints.csv", None)

    assert problem.rows == (3,)
    assert problem.what.startswith("not UTF-8 text")


@pytest.mark.parametrize(
    ("name", "content", "what"),
    [
        ("transactions.csv", b"", "the file is empty"),
        ("transactions.csv", b"\n\n", "the file is empty (no header row)"),
        ("transactions.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01", "not UTF-8 text"),
        ("transactions.csv.gz", b"customer_id,timestamp,amount\n", "cannot be read"),
    ],
)
def test_unreadable_transactions_file_is_one_clean_problem(tmp_path, name, content, what):
    problems = problems_of(tmp_path, **{"transactions__csv": None, name.replace(".", "__"): content})

    problem = the_problem(problems, name, None)
    assert problem.what.startswith(what)
    assert problem.severity == "error"


def test_parquet_file_that_is_not_parquet_is_a_problem_and_other_tables_are_still_checked(tmp_path):
    problems = problems_of(
        tmp_path,
        visits__csv=None,
        visits__parquet=b"customer_id,timestamp\nC1,2024-01-01\n",
        complaints__csv="customer_id,opened_at\nC1,soon\n",
    )

    assert the_problem(problems, "visits.parquet", None).what.startswith("not a readable Parquet file")
    assert the_problem(problems, "complaints.csv", "opened_at").rows == (2,)


def test_line_with_too_many_fields_is_named(tmp_path):
    tx = "customer_id,timestamp,amount\nC1,2024-03-01,10\nC2,2024-03-02,12,50\n"
    problem = the_problem(problems_of(tmp_path, transactions__csv=tx), "transactions.csv", None)

    assert problem.rows == (3,)
    assert problem.what == "4 fields where the header has 3"


def test_unparseable_and_impossible_dates_are_one_problem_with_their_lines(tmp_path):
    tx = (
        "customer_id,timestamp,amount\nC1,2024-03-01,1\nC1,2024-02-30,1\nC2,yesterday,1\n"
        "C2,01/03/2024,1\nC3,2024-02-29 10:00,1\n"  # 2024 is a leap year: the 29th is real
    )
    problem = the_problem(problems_of(tmp_path, transactions__csv=tx), "transactions.csv", "timestamp")

    assert problem.rows == (3, 4, 5)
    assert problem.what == "not a valid date ('2024-02-30', 'yesterday', '01/03/2024')"


def test_dates_before_1900_or_after_2100_are_errors_even_beyond_nanosecond_range(tmp_path):
    customers = (
        "customer_id,signup_date\nC1,2020-01-01\nC2,3000-01-01\nC3,1066-10-14\nC4,2150-01-01\n"
        "C5,1899-12-31 23:59:59\nC6,1900-01-01\nC7,2100-12-31 23:59:59\n"
    )
    problems = [p for p in problems_of(tmp_path, customers__csv=customers) if p.column == "signup_date"]

    assert {(p.rows, p.what) for p in problems} == {
        ((3, 5), "date after 2100 ('3000-01-01', '2150-01-01')"),
        ((4, 6), "date before 1900 ('1066-10-14', '1899-12-31 23:59:59')"),
    }


def test_duplicate_transaction_ids_name_every_line_of_each_duplicate(tmp_path):
    tx = (
        "customer_id,timestamp,amount,transaction_id\nC1,2024-03-01,1,T1\nC1,2024-03-01,1,T2\n"
        "C1,2024-03-01,1,T1\nC2,2024-03-02,1,T9\nC2,2024-03-02,1,T2\nC3,2024-03-02,1,\nC3,2024-03-02,1,\n"
    )
    problem = the_problem(problems_of(tmp_path, transactions__csv=tx), "transactions.csv", "transaction_id")

    assert problem.rows == (2, 3, 4, 6)  # empty transaction ids (lines 7, 8) are allowed
    assert problem.what == "duplicate values ('T1', 'T2')"


def test_duplicate_customer_in_customers_is_an_error(tmp_path):
    customers = CUSTOMERS + "C2,2022-01-01,retail,M1,\n"
    problem = the_problem(problems_of(tmp_path, customers__csv=customers), "customers.csv", "customer_id")

    assert (problem.rows, problem.severity) == ((3, 5), "error")


def test_complaint_resolved_before_it_was_opened(tmp_path):
    complaints = (
        COMPLAINTS + "C3,2024-02-10 12:00,2024-02-10 11:59,,\nC3,2024-02-11 12:00,2024-02-11 12:00,,\n"
    )
    problem = the_problem(problems_of(tmp_path, complaints__csv=complaints), "complaints.csv", "resolved_at")

    assert problem.rows == (4,)  # resolved the moment it was opened (line 5) is fine
    assert problem.what == "resolved before it was opened ('2024-02-10 11:59')"


def test_scores_out_of_range_or_not_whole_numbers(tmp_path):
    complaints = (
        "customer_id,opened_at,severity,satisfaction\nC1,2024-02-01,0,5\nC1,2024-02-02,2.5,6\n"
        "C2,2024-02-03,3.0,x\nC2,2024-02-04,6,1\n"
    )
    problems = problems_of(tmp_path, complaints__csv=complaints)

    assert {(p.column, p.rows, p.what) for p in problems} == {
        ("severity", (2, 5), "outside 1 to 5 ('0', '6')"),
        ("severity", (3,), "not a whole number ('2.5')"),
        ("satisfaction", (3,), "outside 1 to 5 ('6')"),
        ("satisfaction", (4,), "not a number ('x')"),
    }


@pytest.mark.parametrize(
    ("file", "text", "column"),
    [
        ("transactions.csv", TRANSACTIONS + "C2,2024-03-06,5,T5,,-0.5\n", "list_amount"),
        ("customers.csv", CUSTOMERS + "C4,,retail,,-0.5\n", "wallet_estimate"),
        ("visits.csv", VISITS + "C1,2024-01-02,web,-0.5\n", "duration_s"),
    ],
)
def test_negative_value_in_a_non_negative_column(tmp_path, file, text, column):
    problem = the_problem(problems_of(tmp_path, **{file.replace(".", "__"): text}), file, column)

    last_line = len(text.splitlines())
    assert (problem.rows, problem.what, problem.severity) == ((last_line,), "negative ('-0.5')", "error")


def test_empty_and_whitespace_only_ids(tmp_path):
    tx = "customer_id,timestamp,amount\nC1,2024-03-01,1\n,2024-03-01,2\n   ,2024-03-01,3\nC2,2024-03-01,4\n"
    problems = problems_of(tmp_path, transactions__csv=tx)

    assert {(p.column, p.rows, p.what) for p in problems} == {
        ("customer_id", (3,), "empty"),
        ("customer_id", (4,), "only spaces"),
    }


def test_whitespace_only_ids_are_named_alike_in_every_table(tmp_path):
    customers = CUSTOMERS + "  ,2020-01-01,retail,M1,\nC5,2020-01-01,retail, ,\n"  # lines 5 and 6
    problems = problems_of(tmp_path, customers__csv=customers)

    assert {(p.column, p.rows, p.what, p.fix) for p in problems if p.severity == "error"} == {
        ("customer_id", (5,), "only spaces", "fill in customer_id on every row"),
        ("account_manager_id", (6,), "only spaces", "fill in account_manager_id on every row"),
    }


def test_unparseable_required_value_is_reported_once_not_also_as_empty(tmp_path):
    tx = "customer_id,timestamp,amount\nC1,2024-03-01,x\nC1,2024-03-01,\n"
    problems = problems_of(tmp_path, transactions__csv=tx)

    assert {(p.rows, p.what) for p in problems} == {((2,), "not a number ('x')"), ((3,), "empty")}


def test_ids_missing_from_customers_or_managers_are_warnings_counted_and_named(tmp_path):
    tx = TRANSACTIONS + "C9,2024-03-06,1,T5,,\nC8,2024-03-06,1,T6,,\nC9,2024-03-07,1,T7,,\n"
    customers = CUSTOMERS + "C4,,retail,M7,\n"
    report = validate_data_dir(
        data_dir(
            tmp_path,
            transactions__csv=tx,
            customers__csv=customers,
            visits__csv=VISITS + "C5,2024-01-01,web,\n",
        )
    )

    assert report.ok
    assert {(p.file, p.column, p.rows, p.what, p.severity) for p in report.problems} == {
        (
            "transactions.csv",
            "customer_id",
            (6, 7, 8),
            "2 customer_id value(s) not in customers.csv ('C9', 'C8')",
            "warning",
        ),
        ("visits.csv", "customer_id", (4,), "1 customer_id value(s) not in customers.csv ('C5')", "warning"),
        (
            "customers.csv",
            "account_manager_id",
            (5,),
            "1 account_manager_id value(s) not in account_managers.csv ('M7')",
            "warning",
        ),
    }


def test_successors_and_team_leads_not_in_account_managers_are_warnings(tmp_path):
    managers = "account_manager_id,departed_at,successor_id,team_lead_id\nM1,,,\nM2,2024-01-31,M9,M1\nM3,,,M8\n"
    report = validate_data_dir(data_dir(tmp_path, account_managers__csv=managers))

    assert report.ok
    assert {(p.file, p.column, p.rows, p.what, p.severity) for p in report.problems} == {
        ("account_managers.csv", "successor_id", (3,),
         "1 successor_id value(s) not in account_managers.csv ('M9')", "warning"),
        ("account_managers.csv", "team_lead_id", (4,),
         "1 team_lead_id value(s) not in account_managers.csv ('M8')", "warning"),
    }


def test_margin_rate_is_a_share_between_0_and_1(tmp_path):
    customers = (
        "customer_id,margin_rate\nC1,0.3\nC2,\nC3,0\nC4,1\nC5,1.2\nC6,-0.1\nC7,30%\n"
    )
    problems = problems_of(tmp_path, customers__csv=customers)

    assert {(p.column, p.rows, p.what, p.severity) for p in problems if p.file == "customers.csv"} == {
        ("margin_rate", (6, 7), "outside 0 to 1 ('1.2', '-0.1')", "error"),
        ("margin_rate", (8,), "not a number ('30%')", "error"),
    }
    fix = the_problem([p for p in problems if "outside" in p.what], "customers.csv", "margin_rate").fix
    assert "between 0 and 1" in fix


def test_promo_accepts_boolean_words_in_any_case_and_rejects_others():
    raw = pd.DataFrame(
        {
            "customer_id": "C1",
            "timestamp": "2024-03-01",
            "amount": "1",
            "promo": ["TRUE", "no", "Yes", "0", "1", "False", None, "maybe", "2"],
        },
        index=pd.RangeIndex(2, 11, name="line"),
    ).astype("str")
    checked = check_tables({"transactions": RawTable("transactions.csv", raw)})

    assert [p.render() for p in checked.problems] == [
        (
            "transactions.csv, column promo, lines 9, 10: not true or false ('maybe', '2'); "
            "use true/false (1/0 and yes/no are accepted too), or leave it empty"
        )
    ]
    promo = checked.frames["transactions"]["promo"]
    assert promo.dtype == "boolean"
    assert promo.tolist() == [True, False, True, False, True, False, pd.NA, pd.NA, pd.NA]


def test_negative_amounts_and_mixed_time_zones_are_accepted():
    raw = pd.DataFrame(
        {
            "customer_id": ["C1", "C1"],
            "timestamp": ["2024-03-01 23:30:00-02:00", "2024-03-02"],
            "amount": ["-5", "5"],
        },
        index=pd.RangeIndex(2, 4, name="line"),
    ).astype("str")
    checked = check_tables({"transactions": RawTable("transactions.csv", raw)})

    assert checked.problems == []
    frame = checked.frames["transactions"]
    assert frame["timestamp"].dtype == "datetime64[ns]"
    assert frame["timestamp"].tolist() == [pd.Timestamp("2024-03-02 01:30"), pd.Timestamp("2024-03-02")]
    assert frame["amount"].tolist() == [-5.0, 5.0]


def test_every_problem_is_reported_at_once(tmp_path):
    tx = "customer_id,timestamp,amount,transaction_id,promo\nC1,2024-13-01,1,T1,yes\n ,2024-03-01,abc,T1,perhaps\n"
    visits = "customer_id,timestamp,duration_s\nC1,2024-01-01,-1\n"
    problems = problems_of(tmp_path, transactions__csv=tx, visits__csv=visits, complaints__csv=b"\xff\xfe")

    assert {(p.file, p.column) for p in problems if p.severity == "error"} == {
        ("transactions.csv", "customer_id"),
        ("transactions.csv", "timestamp"),
        ("transactions.csv", "amount"),
        ("transactions.csv", "transaction_id"),
        ("transactions.csv", "promo"),
        ("visits.csv", "duration_s"),
        ("complaints.csv", None),
    }


def test_parquet_problems_are_located_by_row_number_from_one(tmp_path):
    frame = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3"],
            "timestamp": pd.to_datetime(["2024-01-01"] * 3),
            "amount": [1.0, -2.0, 3.0],
            "list_amount": [1.0, -2.0, 3.0],
        }
    )
    frame.to_parquet(tmp_path / "transactions.parquet")
    problems = problems_of(tmp_path, transactions__csv=None)

    problem = the_problem(problems, "transactions.parquet", "list_amount")
    assert problem.rows == (2,)
    assert problem.what == "negative ('-2.0')"


def test_parquet_with_integer_ids_and_typed_columns_is_read_like_csv(tmp_path):
    frame = pd.DataFrame(
        {
            "customer_id": [1, 2],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "amount": [1, 2],
            "promo": [True, False],
        }
    )
    frame.to_parquet(tmp_path / "transactions.parquet")
    customers = pd.DataFrame(
        {
            "customer_id": pd.array([1, 2, 3], dtype="Int64"),
            "account_manager_id": pd.array([7, None, 8], dtype="Int64"),
        }
    )
    customers.to_parquet(tmp_path / "customers.parquet")
    pd.DataFrame({"account_manager_id": ["7", "8"]}).to_parquet(tmp_path / "account_managers.parquet")
    report = validate_data_dir(
        data_dir(
            tmp_path,
            transactions__csv=None,
            customers__csv=None,
            account_managers__csv=None,
            complaints__csv=None,
            visits__csv=None,
        )
    )

    assert report.problems == []  # ids 1, 2 match customers and manager 7 matches "7": no stray "7.0"
    assert report.summary["customers"] == 3


def test_models_describe_the_contract_columns_and_conformed_dtypes():
    for name, schema in TABLE_SCHEMAS.items():
        assert list(schema.columns) == list(COLUMNS[name])
        assert [c.required for c in schema.columns.values()] == [
            required for _, required in COLUMNS[name].values()
        ]
        schema.validate(empty_table(name))  # the conformed dtypes of features.tables pass

    with pytest.raises(pandera.errors.SchemaError, match="amount"):
        TABLE_SCHEMAS["transactions"].validate(empty_table("transactions").astype({"amount": "str"}))


def test_timestamp_coercion_yields_the_nanosecond_policy():
    frame = pd.DataFrame(
        {
            "customer_id": ["C1"],
            "timestamp": pd.to_datetime(["2024-01-01"]).astype("datetime64[us]"),
            "amount": [1.0],
        }
    ).astype({"customer_id": "str"})

    validated = TABLE_SCHEMAS["transactions"].validate(frame)

    assert validated["timestamp"].dtype == "datetime64[ns]"
    assert frame["timestamp"].dtype == "datetime64[us]"  # the input is left alone


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["1.5", "+2", "-3e2", ".5", "5.", None], [1.5, 2.0, -300.0, 0.5, 5.0, None]),  # all numbers: Arrow's cast
        (["1.5", "1,5", "x", None, "7"], [1.5, None, None, None, 7.0]),  # some not: per-cell coercion
    ],
)
def test_text_to_float_reads_numbers_and_leaves_the_rest_missing(cells, expected):
    text = pd.Series(cells, dtype="str", index=[10, 11, 12, 13, 14, 15][: len(cells)])
    numbers = _text_to_float(text)

    assert numbers.dtype == "float64" and numbers.index.equals(text.index)
    assert [None if pd.isna(v) else v for v in numbers] == expected


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_tables_read_typed_equal_the_precise_reading(tmp_path, fmt):
    """A clean directory takes the fast typed path; its frames are the ones the precise path would give."""
    from pipeline.config import DEFAULT_CONFIG, load_config
    from pipeline.contract import check_tables as check
    from pipeline.generate import campaign_simulation, write_world
    from pipeline.io import read_raw_tables, read_tables

    # A world with a campaign holds every table, the contact log too.
    write_world(tmp_path / "data", 600, 3, fmt, campaign=campaign_simulation(load_config(DEFAULT_CONFIG)),
                history=str(tmp_path / "history"))
    tmp_path = tmp_path / "data"
    raw, typed, problems = read_tables(tmp_path)
    assert not raw and set(typed) == set(TABLE_SCHEMAS) and not problems  # every table conformed as read
    fast = check({}, None, typed)
    precise = check(*read_raw_tables(tmp_path)[:1])
    assert [p.render() for p in fast.problems] == [p.render() for p in precise.problems]
    for name, frame in precise.frames.items():
        expected = frame.reset_index(drop=True)
        got = typed_frame(typed[name])
        pd.testing.assert_frame_equal(got, expected[got.columns], check_dtype=True)


@pytest.mark.parametrize("spoil", ["clean", "unknown ids", "no customers file", "a table read precisely"])
def test_prepared_loading_equals_preparing_the_loaded_tables(tmp_path, spoil):
    """load_prepared (Arrow straight to prepared tables, unknown ids found by the lookup) gives the tables and
    the warnings that loading every table and preparing them gives."""
    from features import prepare_tables
    from pipeline.generate import write_world
    from pipeline.io import load_data_dir, load_prepared

    write_world(tmp_path, 150, 4, "csv")
    customers = pd.read_csv(tmp_path / "customers.csv", dtype=str)["customer_id"]
    pd.DataFrame({  # the contact log keeps its ids as text; an id the customers lack is reported, not added
        "customer_id": [customers[4], "ZZ7" if spoil == "unknown ids" else customers[5], customers[4]],
        "contacted_at": ["2024-02-01", "2024-02-03 10:30:00", "2024-03-01"],
        "channel": ["email", "account_manager_call", ""], "action": ["care_email", "", ""],
        "campaign_id": ["c1", "c1", ""], "outcome": ["", "reached", ""],
    }).to_csv(tmp_path / "contacts.csv", index=False)
    if spoil == "unknown ids":
        visits = pd.read_csv(tmp_path / "visits.csv", dtype=str, keep_default_na=False)
        visits.loc[[3, 9], "customer_id"] = ["ZZ1", "ZZ0"]
        visits.to_csv(tmp_path / "visits.csv", index=False)
    if spoil == "no customers file":
        (tmp_path / "customers.csv").unlink()
    if spoil == "a table read precisely":  # numbers stored as text in Parquet: only the precise path reads them
        transactions = pd.read_csv(tmp_path / "transactions.csv", dtype=str, keep_default_na=False)
        transactions.to_parquet(tmp_path / "transactions.parquet")
        (tmp_path / "transactions.csv").unlink()
    prepared, warnings = load_prepared(tmp_path)
    tables, expected_warnings = load_data_dir(tmp_path)
    expected = prepare_tables(tables)
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(getattr(prepared, name), frame, check_exact=True)
    assert [w.render() for w in warnings] == [w.render() for w in expected_warnings]
    if spoil == "unknown ids":
        assert any("2 customer_id value(s) not in customers.csv ('ZZ1', 'ZZ0')" in w.render() for w in warnings)
        assert any("contacts.csv" in w.render() and "'ZZ7'" in w.render() for w in warnings)
        assert "ZZ7" not in prepared.customers["customer_id"].cat.categories
    assert list(prepared.contacts["customer_id"])[::2] == [customers[4]] * 2


@pytest.mark.parametrize(
    ("texts", "blank"),
    [(["C1", "C2", None], False), (["C1", "", "C3"], True), (["C1", "   ", "C3"], True), ([" C1", "C2"], False),
     (["C1", "\u00a0"], True), (["C1", "\u00e9t\u00e9"], False), (["\t\n"], True), ([None, None], False), ([], False)],
)
def test_any_blank_reads_first_bytes_then_checks_the_suspects(texts, blank):
    import pyarrow as pa

    from pipeline.contract import any_blank

    values = pa.chunked_array([pa.array(texts[:1], pa.string()), pa.array(texts[1:], pa.string())])
    assert any_blank(values) is blank
    assert any_blank(pa.chunked_array([pa.array(texts, pa.string()).slice(0)])) is blank


def test_the_contact_log_is_validated_like_the_other_tables(tmp_path):
    contacts = (
        "customer_id,contacted_at,channel,action,campaign_id,outcome\n"
        "C1,2024-03-04 10:00:00,email,care_email,retention-2024-01-01,sent\n"
        "C9,2024-03-05,account_manager_call,,,\n"  # a customer customers.csv does not list: a warning
        ",2024-03-05,email,,,\n"  # no customer: an error
        "C2,not a date,email,,,\n"
        "C3,2031-01-01,email,,,\n"  # after the command ran
    )
    from pipeline.contract import InputLimits

    report = validate_data_dir(data_dir(tmp_path, contacts__csv=contacts), InputLimits(pd.Timestamp("2025-01-01")))
    found = {(p.column, p.rows, p.severity, p.what.split(" (")[0]) for p in report.problems if p.file == "contacts.csv"}
    assert found == {
        ("customer_id", (3,), "warning", "1 customer_id value(s) not in customers.csv"),
        ("customer_id", (4,), "error", "empty"),
        ("contacted_at", (5,), "error", "not a valid date"),
        ("contacted_at", (6,), "error", "in the future"),
    }
    assert report.summary["tables"]["contacts"] == "contacts.csv"


def test_named_categories_and_channels_the_features_lump_as_other_are_warned_of(tmp_path):
    complaints = ("customer_id,opened_at,category\nC1,2024-02-01,refund\nC2,2024-02-10,refund\n"
                  "C3,2024-02-11,service\nC1,2024-02-12,\nC2,2024-02-13,other\n")
    visits = "customer_id,timestamp,channel\nC1,2024-01-01,web\nC3,2024-01-09,sales_visit\n"
    folder = data_dir(tmp_path, complaints__csv=complaints, visits__csv=visits)
    report = validate_data_dir(folder, settings=FeatureSettings())
    assert report.ok
    category = the_problem(report.warnings, "complaints.csv", "category")
    assert category.what == "2 rows hold values the features count as other: refund (2)"  # not service, NA, other
    assert "features.complaint_categories" in category.fix
    channel = the_problem(report.warnings, "visits.csv", "channel")
    assert channel.what == "1 row holds values the features count as other: sales_visit (1)"
    listed = FeatureSettings(complaint_categories=["refund", "service"], visit_channels=["web", "sales_visit"])
    assert validate_data_dir(folder, settings=listed).warnings == []
    assert validate_data_dir(folder).warnings == []  # without settings: the contract alone
