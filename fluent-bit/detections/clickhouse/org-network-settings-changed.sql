-- de7fc7db-1146-5416-b93b-52cf843d374a medium Hugging Face organization network settings changed
-- The organization's network settings (IP ranges of the allow-list) were changed.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'org.settings.network'
ORDER BY eventTime, eventID
