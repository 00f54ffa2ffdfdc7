//! Validation table: each request body (as a client would send it) and the exact
//! `InvalidParameterException` text, or acceptance.
#![allow(clippy::unwrap_used)]

use waggle_protocols::aws::ErrorKind;
use waggle_protocols::cloudwatch_logs::validate;

fn parse<T: serde::de::DeserializeOwned>(body: &str) -> T {
    serde_json::from_str(body).unwrap()
}

/// `(operation, body, Ok(()) or the message)`.
fn check(op: &str, body: &str) -> Result<(), String> {
    let r = match op {
        "CreateLogGroup" => validate::create_log_group(&parse(body)).map(|_| ()),
        "DescribeLogGroups" => validate::describe_log_groups(&parse(body)).map(|_| ()),
        "CreateLogStream" => validate::group_and_stream(&parse(body)).map(|_| ()),
        "DescribeLogStreams" => validate::describe_log_streams(&parse(body)).map(|_| ()),
        "PutLogEvents" => validate::put_log_events(&parse(body)).map(|_| ()),
        "GetLogEvents" => validate::get_log_events(&parse(body)).map(|_| ()),
        "FilterLogEvents" => validate::filter_log_events(&parse(body)).map(|_| ()),
        "PutRetentionPolicy" => validate::put_retention_policy(&parse(body)).map(|_| ()),
        "TagResource" => validate::tag_resource(&parse(body)).map(|_| ()),
        "PutMetricFilter" => validate::put_metric_filter(&parse(body)).map(|_| ()),
        "PutSubscriptionFilter" => validate::put_subscription_filter(&parse(body)).map(|_| ()),
        "StartQuery" => validate::start_query(&parse(body)).map(|_| ()),
        "DescribeQueries" => validate::describe_queries(&parse(body)).map(|_| ()),
        "StartLiveTail" => validate::start_live_tail(&parse(body)).map(|_| ()),
        other => panic!("{other}"),
    };
    r.map_err(|e| {
        assert_eq!(e.kind, ErrorKind::InvalidParameter, "{op} {body}");
        e.message().to_string()
    })
}

const VE: &str = "1 validation error detected: ";

#[test]
fn validation_table() {
    let long = "a".repeat(513);
    let cases: Vec<(&str, String, Result<(), String>)> = vec![
        ("CreateLogGroup", r#"{"logGroupName":"cruddur"}"#.into(), Ok(())),
        ("CreateLogGroup", r#"{"logGroupName":"/cruddur/a.b-c_d#1"}"#.into(), Ok(())),
        ("CreateLogGroup", "{}".into(), Err(format!("{VE}Value null at 'logGroupName' failed to satisfy constraint: Member must not be null"))),
        ("CreateLogGroup", r#"{"logGroupName":"bad name"}"#.into(), Err(format!(r"{VE}Value 'bad name' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+"))),
        ("CreateLogGroup", format!(r#"{{"logGroupName":"{long}"}}"#), Err(format!("{VE}Value '{}...' at 'logGroupName' failed to satisfy constraint: Member must have length less than or equal to 512", &long[..256]))),
        ("CreateLogGroup", format!(r#"{{"logGroupName":"{}"}}"#, &long[..512]), Ok(())),
        ("CreateLogGroup", r#"{"logGroupName":"g","logGroupClass":"COLD"}"#.into(), Err(format!("{VE}Value 'COLD' at 'logGroupClass' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, INFREQUENT_ACCESS, DELIVERY]"))),
        ("CreateLogGroup", r#"{"logGroupName":"g","logGroupClass":"INFREQUENT_ACCESS","tags":{"team":"cruddur"}}"#.into(), Ok(())),
        ("CreateLogGroup", r#"{"logGroupName":"g","tags":{}}"#.into(), Err(format!("{VE}Value '{{}}' at 'tags' failed to satisfy constraint: Member must have length greater than or equal to 1"))),
        ("CreateLogGroup", r#"{"logGroupName":"aws/lambda/x"}"#.into(), Err(validate::MSG_RESERVED_GROUP.into())),
        ("CreateLogGroup", r#"{"logGroupName":"bad name","logGroupClass":"X"}"#.into(), Err(r"2 validation errors detected: Value 'bad name' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+; Value 'X' at 'logGroupClass' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, INFREQUENT_ACCESS, DELIVERY]".into())),
        ("DescribeLogGroups", "{}".into(), Ok(())),
        ("DescribeLogGroups", r#"{"limit":50}"#.into(), Ok(())),
        ("DescribeLogGroups", r#"{"limit":51}"#.into(), Err(format!("{VE}Value '51' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 50"))),
        ("DescribeLogGroups", r#"{"limit":0}"#.into(), Err(format!("{VE}Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"))),
        ("DescribeLogGroups", r#"{"logGroupNamePrefix":"a","logGroupNamePattern":"b"}"#.into(), Err(validate::MSG_PREFIX_AND_PATTERN.into())),
        ("DescribeLogGroups", r#"{"logGroupNamePattern":""}"#.into(), Ok(())),
        ("CreateLogStream", r#"{"logGroupName":"g","logStreamName":"vm//app.py/cruddur/1957"}"#.into(), Ok(())),
        ("CreateLogStream", r#"{"logGroupName":"g","logStreamName":"a:b"}"#.into(), Err(format!("{VE}Value 'a:b' at 'logStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*"))),
        ("CreateLogStream", r#"{"logGroupName":"g","logStreamName":"a*"}"#.into(), Err(format!("{VE}Value 'a*' at 'logStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*"))),
        ("CreateLogStream", r#"{"logGroupName":"g","logStreamName":""}"#.into(), Err(format!("{VE}Value '' at 'logStreamName' failed to satisfy constraint: Member must have length greater than or equal to 1"))),
        ("DescribeLogStreams", r#"{"logGroupName":"g","orderBy":"LastEventTime","descending":true}"#.into(), Ok(())),
        ("DescribeLogStreams", r#"{"logGroupName":"g","orderBy":"LastEventTime","logStreamNamePrefix":"a"}"#.into(), Err("Cannot order by LastEventTime with a logStreamNamePrefix.".into())),
        ("DescribeLogStreams", r#"{"logGroupName":"g","orderBy":"Name"}"#.into(), Err(format!("{VE}Value 'Name' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]"))),
        ("DescribeLogStreams", "{}".into(), Err(validate::MSG_NAME_XOR_IDENTIFIER.into())),
        ("DescribeLogStreams", r#"{"logGroupName":"g","logGroupIdentifier":"g"}"#.into(), Err(validate::MSG_NAME_XOR_IDENTIFIER.into())),
        ("DescribeLogStreams", r#"{"logGroupIdentifier":"arn:aws:logs:us-east-1:123456789012:log-group:g"}"#.into(), Ok(())),
        ("PutLogEvents", r#"{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":1,"message":"m"}]}"#.into(), Ok(())),
        ("PutLogEvents", r#"{"logGroupName":"g","logStreamName":"s","logEvents":[]}"#.into(), Err(format!("{VE}Value '[0 log events]' at 'logEvents' failed to satisfy constraint: Member must have length greater than or equal to 1"))),
        ("PutLogEvents", r#"{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":1,"message":""}]}"#.into(), Err(format!("{VE}Value '' at 'logEvents.1.member.message' failed to satisfy constraint: Member must have length greater than or equal to 1"))),
        ("PutLogEvents", r#"{"logGroupName":"g","logStreamName":"s","logEvents":[{"message":"m"}]}"#.into(), Err(format!("{VE}Value null at 'logEvents.1.member.timestamp' failed to satisfy constraint: Member must not be null"))),
        ("PutLogEvents", r#"{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":-1,"message":"m"}]}"#.into(), Err(format!("{VE}Value '-1' at 'logEvents.1.member.timestamp' failed to satisfy constraint: Member must have value greater than or equal to 0"))),
        ("GetLogEvents", r#"{"logGroupName":"g","logStreamName":"s","limit":10000}"#.into(), Ok(())),
        ("GetLogEvents", r#"{"logGroupName":"g","logStreamName":"s","limit":10001}"#.into(), Err(format!("{VE}Value '10001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000"))),
        ("GetLogEvents", r#"{"logGroupName":"g"}"#.into(), Err(format!("{VE}Value null at 'logStreamName' failed to satisfy constraint: Member must not be null"))),
        ("FilterLogEvents", r#"{"logGroupName":"g","logStreamNames":["a"],"logStreamNamePrefix":"a"}"#.into(), Err(validate::MSG_STREAM_NAMES_AND_PREFIX.into())),
        ("FilterLogEvents", format!(r#"{{"logGroupName":"g","filterPattern":"{}"}}"#, "x".repeat(1025)), Err(format!("{VE}Value '{}...' at 'filterPattern' failed to satisfy constraint: Member must have length less than or equal to 1024", "x".repeat(256)))),
        ("FilterLogEvents", r#"{"logGroupName":"g","filterPattern":"","interleaved":true}"#.into(), Ok(())),
        ("PutRetentionPolicy", r#"{"logGroupName":"g","retentionInDays":14}"#.into(), Ok(())),
        ("PutRetentionPolicy", r#"{"logGroupName":"g","retentionInDays":2}"#.into(), Err(format!("{VE}Value '2' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]"))),
        ("PutRetentionPolicy", r#"{"logGroupName":"g"}"#.into(), Err(format!("{VE}Value null at 'retentionInDays' failed to satisfy constraint: Member must not be null"))),
        ("TagResource", r#"{"resourceArn":"arn:aws:logs:us-east-1:123456789012:log-group:g","tags":{"k":"v"}}"#.into(), Ok(())),
        ("TagResource", r#"{"resourceArn":"arn:aws:logs:us-east-1:123456789012:log-group:g","tags":{"k!":"v"}}"#.into(), Err(format!(r"{VE}Value '{{k!=v}}' at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: ^([\p{{L}}\p{{Z}}\p{{N}}_.:/=+\-@]+)$]"))),
        ("PutMetricFilter", r#"{"logGroupName":"g","filterName":"f","filterPattern":"ERROR","metricTransformations":[{"metricName":"errors","metricNamespace":"cruddur","metricValue":"1"}]}"#.into(), Ok(())),
        ("PutMetricFilter", r#"{"logGroupName":"g","filterName":"f","filterPattern":"ERROR","metricTransformations":[{"metricName":"a:b","metricNamespace":"n","metricValue":"1","unit":"Apples"}]}"#.into(), Err("2 validation errors detected: Value 'a:b' at 'metricTransformations.1.member.metricName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*$]*; Value 'Apples' at 'metricTransformations.1.member.unit' failed to satisfy constraint: Member must satisfy enum value set: [Seconds, Microseconds, Milliseconds, Bytes, Kilobytes, Megabytes, Gigabytes, Terabytes, Bits, Kilobits, Megabits, Gigabits, Terabits, Percent, Count, Bytes/Second, Kilobytes/Second, Megabytes/Second, Gigabytes/Second, Terabytes/Second, Bits/Second, Kilobits/Second, Megabits/Second, Gigabits/Second, Terabits/Second, Count/Second, None]".into())),
        ("PutSubscriptionFilter", r#"{"logGroupName":"g","filterName":"f","filterPattern":"","destinationArn":"arn:aws:lambda:x","distribution":"Sideways"}"#.into(), Err(format!("{VE}Value 'Sideways' at 'distribution' failed to satisfy constraint: Member must satisfy enum value set: [Random, ByLogStream]"))),
        ("StartQuery", r#"{"logGroupName":"g","startTime":1,"endTime":2,"queryString":"fields @message"}"#.into(), Ok(())),
        ("StartQuery", r#"{"logGroupName":"g","logGroupNames":["g"],"startTime":1,"endTime":2,"queryString":"x"}"#.into(), Err(validate::MSG_QUERY_GROUPS.into())),
        ("StartQuery", r#"{"logGroupName":"g","startTime":1,"endTime":2,"queryString":"x","limit":10001}"#.into(), Err(format!("{VE}Value '10001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000"))),
        ("DescribeQueries", r#"{"status":"Done"}"#.into(), Err(format!("{VE}Value 'Done' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Scheduled, Running, Complete, Failed, Cancelled, Timeout, Unknown]"))),
        ("StartLiveTail", r#"{"logGroupIdentifiers":[]}"#.into(), Err(format!("{VE}Value '[]' at 'logGroupIdentifiers' failed to satisfy constraint: Member must have length greater than or equal to 1"))),
        ("StartLiveTail", r#"{"logGroupIdentifiers":["arn:aws:logs:us-east-1:123456789012:log-group:g"],"logStreamNamePrefixes":["a"]}"#.into(), Ok(())),
    ];
    for (op, body, want) in cases {
        assert_eq!(check(op, &body), want, "{op} {body}");
    }
}
