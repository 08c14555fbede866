"""The lake's pure rules: where rows and files go, which files count, the columns, the queries."""
