-- 59a2a46b-ae53-5e1f-b687-59aa2ffa9903 medium Hugging Face many credentials created by one actor
-- One actor created, rotated or authorized 5 or more tokens within one hour.
SELECT authorUser, max(windowFigure) AS eventCount,
       minIf(eventTime, windowFigure >= 5) AS firstCrossedAt
FROM
(
    SELECT authorUser, eventTime,
           count() OVER (PARTITION BY authorUser ORDER BY toUnixTimestamp(eventTime)
               RANGE BETWEEN 3599 PRECEDING AND CURRENT ROW) AS windowFigure
    FROM huggingface_logs FINAL
    WHERE (eventName IN ('org.service_account.token.create', 'org.service_account.token.rotate', 'org.rotate_token', 'org.token_approval.authorization_request.authorized'))
)
GROUP BY authorUser
HAVING countIf(windowFigure >= 5) > 0
ORDER BY authorUser, firstCrossedAt
