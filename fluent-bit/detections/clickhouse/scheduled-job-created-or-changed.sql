-- a40445bb-0289-56ba-9092-00ab72d9f6a8 medium Hugging Face scheduled job created, resumed or rescheduled
-- A scheduled job was created, resumed or given a new schedule: code that runs again and again on the
-- organization's account.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName IN ('scheduled_job.create', 'scheduled_job.resume', 'scheduled_job.update_schedule')
ORDER BY eventTime, eventID
