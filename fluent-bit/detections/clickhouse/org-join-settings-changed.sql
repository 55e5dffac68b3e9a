-- d1163885-9cb7-5820-8027-1c6768ea179f medium Hugging Face organization join settings changed
-- Who may join the organization (domain auto-join, default role) was changed.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'org.update_join_settings'
ORDER BY eventTime, eventID
