-- 39ffef9b-983d-5f61-854a-35e22dbc172a high Hugging Face many members removed by one actor
-- One actor removed 5 or more members from the organization within one hour (administrators locked
-- out).
SELECT authorUser, max(windowFigure) AS eventCount,
       minIf(eventTime, windowFigure >= 5) AS firstCrossedAt
FROM
(
    SELECT authorUser, eventTime,
           count() OVER (PARTITION BY authorUser ORDER BY toUnixTimestamp(eventTime)
               RANGE BETWEEN 3599 PRECEDING AND CURRENT ROW) AS windowFigure
    FROM huggingface_logs FINAL
    WHERE (eventName = 'org.remove_user')
)
GROUP BY authorUser
HAVING countIf(windowFigure >= 5) > 0
ORDER BY authorUser, firstCrossedAt
