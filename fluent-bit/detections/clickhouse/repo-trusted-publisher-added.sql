-- 98898ec8-b5c7-57af-8d04-a3c0c5c20c19 high Hugging Face repository trusted publisher added
-- A trusted publisher (a CI identity allowed to push without a token) was added to a repository:
-- whoever controls that CI can publish to it.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'repo.add_trusted_publisher'
ORDER BY eventTime, eventID
