-- a3479a1d-d664-54e8-be28-63ac20af3173 high Hugging Face mass deletion by one actor
-- One actor deleted 10 or more pieces of Hub content (repositories, LFS files, collections, resource
-- groups, Space storage, scheduled jobs, service accounts) within one hour.
SELECT authorUser, max(windowFigure) AS eventCount,
       minIf(eventTime, windowFigure >= 10) AS firstCrossedAt
FROM
(
    SELECT authorUser, eventTime,
           count() OVER (PARTITION BY authorUser ORDER BY toUnixTimestamp(eventTime)
               RANGE BETWEEN 3599 PRECEDING AND CURRENT ROW) AS windowFigure
    FROM huggingface_logs FINAL
    WHERE (eventName IN ('repo.delete', 'repo.delete_lfs_file', 'collection.delete', 'resource_group.delete', 'spaces.remove_storage', 'spaces.remove_volumes', 'scheduled_job.delete', 'org.service_account.delete'))
)
GROUP BY authorUser
HAVING countIf(windowFigure >= 10) > 0
ORDER BY authorUser, firstCrossedAt
