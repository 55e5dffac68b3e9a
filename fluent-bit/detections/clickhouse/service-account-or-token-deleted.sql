-- b402a305-b051-5ff5-a38e-a54140547478 low Hugging Face service account or token deleted
-- A service account or one of its tokens was deleted: automations that use it stop working.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName IN ('org.service_account.delete', 'org.service_account.token.delete')
ORDER BY eventTime, eventID
