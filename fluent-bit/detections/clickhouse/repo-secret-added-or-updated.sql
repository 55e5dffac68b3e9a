-- 3356c9d9-b93f-53e8-97d6-43b71ca9656a medium Hugging Face repository secret added or updated
-- A secret of a repository (Space secrets are environment variables of the running app) was added or
-- changed.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName IN ('repo.add_secret', 'repo.add_secrets', 'repo.update_secret')
ORDER BY eventTime, eventID
