-- 1a49c26d-94da-5059-b7ba-157a21699651 medium Hugging Face Space storage or volumes removed
-- Persistent storage or volumes of a Space were removed, with the data on them.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName IN ('spaces.remove_storage', 'spaces.remove_volumes')
ORDER BY eventTime, eventID
