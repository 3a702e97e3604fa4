//! `GET /metrics`: the review queue counted for the operator, behind its token.

mod support;

use support::extra::start_with;

#[tokio::test]
async fn the_review_queue_is_counted_for_the_operator_and_only_for_the_token() {
    let t = start_with(|config| config.metrics_token = Some("scrape-secret".into())).await;
    let get = |token: Option<&'static str>| {
        let mut request = t.http.get(format!("{}/metrics", t.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_eq!(get(None).await.unwrap().status().as_u16(), 401);
    let wrong = get(Some("guess")).await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    assert!(wrong.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("json"));

    for body in ["not json", "[1]"] {
        assert_eq!(t.signed_whatsapp_webhook(body).await, 200);
    }
    let text = get(Some("scrape-secret"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("optin_webhook_reviews_open{provider=\"whatsapp\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains("optin_webhook_reviews_total{provider=\"whatsapp\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains("optin_webhook_reviews_open{provider=\"sms\"} 0\n"),
        "{text}"
    );
}

#[tokio::test]
async fn without_a_token_there_is_no_metrics_endpoint() {
    let t = support::start().await;
    let response = t
        .http
        .get(format!("{}/metrics", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
}
