"""The privacy machinery: access reports, retention, data-subject requests, small-number suppression."""
