"""How results are said and drawn: wording and headers in two languages, HTML pieces, workbooks, figures."""
