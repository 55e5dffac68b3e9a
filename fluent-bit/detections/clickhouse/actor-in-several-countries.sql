-- 0fa3fe0d-d20a-5143-9562-4ab7f67e9151 high Hugging Face actor active from several countries within an hour
-- One user's events came from two or more countries within one hour: shared or stolen credentials, or
-- a session used from elsewhere (impossible travel).
SELECT authorUser, max(windowFigure) AS valueCount,
       minIf(eventTime, windowFigure >= 2) AS firstCrossedAt
FROM
(
    SELECT authorUser, eventTime,
           uniqExact(locationCountry) OVER (PARTITION BY authorUser ORDER BY toUnixTimestamp(eventTime)
               RANGE BETWEEN 3599 PRECEDING AND CURRENT ROW) AS windowFigure
    FROM huggingface_logs FINAL
    WHERE (authorType = 'user' AND NOT locationCountry = '')
)
GROUP BY authorUser
HAVING countIf(windowFigure >= 2) > 0
ORDER BY authorUser, firstCrossedAt
